package remediate

// Fargate accepts only these CPU/memory pairs (SOP.md; the AWS task size table,
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size).
var fargate = []struct {
	cpu      int
	min, max int
	step     int
	extra    []int
}{
	{cpu: 256, extra: []int{512, 1024, 2048}},
	{cpu: 512, min: 1024, max: 4096, step: 1024},
	{cpu: 1024, min: 2048, max: 8192, step: 1024},
	{cpu: 2048, min: 4096, max: 16384, step: 1024},
	{cpu: 4096, min: 8192, max: 30720, step: 1024},
	{cpu: 8192, min: 16384, max: 61440, step: 4096},
	{cpu: 16384, min: 32768, max: 122880, step: 8192},
}

// fargateSizes lists the valid memory sizes for a CPU, ascending.
func fargateSizes(cpu int) []int {
	for _, f := range fargate {
		if f.cpu != cpu {
			continue
		}
		if f.extra != nil {
			return f.extra
		}
		var out []int
		for m := f.min; m <= f.max; m += f.step {
			out = append(out, m)
		}
		return out
	}
	return nil
}

// nextFargateSize is the smallest valid (cpu, memory) with memory >= want and memory <= limit,
// keeping the CPU when it can and raising it (when allowed) only when the size demands it.
func nextFargateSize(cpu, want, limit int, allowCPU bool) (int, int, bool) {
	for _, f := range fargate {
		if f.cpu < cpu || (f.cpu > cpu && !allowCPU) {
			continue
		}
		for _, m := range fargateSizes(f.cpu) {
			if m >= want && m <= limit {
				return f.cpu, m, true
			}
		}
	}
	return 0, 0, false
}
