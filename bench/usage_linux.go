package bench

import "syscall"

// selfUsage returns this process's CPU time (user and system) and peak
// resident memory.
func selfUsage() (cpuSeconds float64, maxRSS int64) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0
	}
	cpu := float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
	return cpu, ru.Maxrss * 1024 // Linux reports kilobytes
}

// setDeathSignal makes a child die with the bench (prctl PDEATHSIG), so an
// interrupted run leaves no peer behind.
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
