package observability

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
)

// heapOptions gives a JVM half of the container's memory, the rest going to
// the page cache and off-heap buffers.
func heapOptions(memory string) string {
	q := resource.MustParse(memory)
	mib := q.Value() / (1 << 20) / 2
	return fmt.Sprintf("-Xms%dm -Xmx%dm", mib, mib)
}

// percentOf a quantity, in whole MiB (Logstash's byte unit), for a size
// that must leave room on its volume.
func percentOf(size string, percent int64) string {
	q := resource.MustParse(size)
	return fmt.Sprintf("%dmb", q.Value()*percent/100/(1<<20))
}
