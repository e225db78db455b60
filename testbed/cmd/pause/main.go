// Command pause is the sandbox ("pause") container of the local cluster's
// real node: it holds a pod's namespaces open, reaps the zombies it inherits
// as the pod's init process, and exits 0 on SIGINT or SIGTERM, as upstream's
// build/pause/linux/pause.c does. testbed/nodeimage packs it into the image
// containerd's sandbox_image names.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if os.Getpid() != 1 {
		os.Stderr.WriteString("pause: warning: not running as PID 1\n")
	}
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
