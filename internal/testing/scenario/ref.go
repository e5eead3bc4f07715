package scenario

import (
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/testing/eventgen"
)

func stateRef(service string) servicestate.Ref {
	return servicestate.Ref{Account: eventgen.Account, Region: eventgen.Region, Cluster: "prod", Service: service}
}
