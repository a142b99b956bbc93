//go:build !linux

package bench

import "syscall"

// selfUsage is not measured on this system: CPU figures stay zero and the
// tables show them as missing.
func selfUsage() (cpuSeconds float64, maxRSS int64) { return 0, 0 }

func setDeathSignal(a *syscall.SysProcAttr) {}
