package scenario

import (
	"github.com/ecs-medic/ecs-medic/internal/eventgen"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
)

func stateRef(service string) servicestate.Ref {
	return servicestate.Ref{Account: eventgen.Account, Region: eventgen.Region, Cluster: "prod", Service: service}
}
