// Package imagecontract records what each pinned image does that a pod spec
// must fit: who it runs as, the VOLUMEs it declares, its entrypoint, where its
// process writes, and which programs its scripts may call. Every fact is
// taken from the image's own source at the pinned version and cited beside
// it. Check judges a container of a pod spec (as the program registers it)
// against its image's contract; the tests run it over every stack.
package imagecontract

// Contract is what one image does.
type Contract struct {
	// Source is where the facts come from: the image's Dockerfile or docs
	// at the pinned version.
	Source string
	// UID the image runs as when the pod names none (its USER).
	UID int
	// Volumes the image declares. A container runtime mounts an anonymous
	// volume on each one that no pod mount equals: containerd's CRI does, and
	// runc cannot create its mount point inside a read-only mount.
	Volumes []string
	// Entrypoint is the image's ENTRYPOINT and CMD, as one command line.
	Entrypoint []string
	// EntrypointWrites are the folders the entrypoint writes before it
	// starts the server: a container that keeps the entrypoint under a
	// read-only root filesystem needs each on a writable mount.
	EntrypointWrites []string
	// Writes are the folders the server writes while it runs (data, logs,
	// temporary files, a keystore), with the program's configuration: under
	// a read-only root filesystem each must be on a writable mount.
	Writes []string
	// Scratch is the most the server writes, run as the program runs it, into
	// each folder that holds no data (logs, temporary files), as a
	// Kubernetes quantity: an emptyDir there must allow the sum of the
	// folders it covers, or the kubelet evicts the pod when it fills.
	Scratch map[string]string
	// Data are the folders a stateful server keeps its data in: in a
	// StatefulSet a claim must be mounted on the folder or above it, with no
	// image VOLUME between.
	Data []string
	// Tools are the programs the image has that the program's scripts and
	// exec probes call, by name (found on PATH) or by absolute path.
	Tools []string
}

// Contracts of the pinned images (components/observability/args.go), each
// fact from the image's own source at that version.
var Contracts = map[string]Contract{
	"apache/kafka:4.1.0": {
		// docker/jvm/Dockerfile at 4.1.0: FROM eclipse-temurin:21-jre-alpine;
		// `adduser -D appuser` (Alpine's first user: UID 1000); USER appuser;
		// VOLUME ["/etc/kafka/secrets", "/var/lib/kafka/data",
		// "/mnt/shared/config"]; CMD ["/etc/kafka/docker/run"], whose
		// configure step writes /opt/kafka/config; Kafka's scripts in
		// /opt/kafka/bin (the distribution's bin/, kafka-acls.sh among
		// them); the shell and text tools are Alpine's busybox.
		Source:           "apache/kafka 4.1.0, docker/jvm/Dockerfile",
		UID:              1000,
		Volumes:          []string{"/etc/kafka/secrets", "/var/lib/kafka/data", "/mnt/shared/config"},
		Entrypoint:       []string{"/etc/kafka/docker/run"},
		EntrypointWrites: []string{"/opt/kafka/config"},
		// The broker's log.dirs, and LOG_DIR and the JVM's temporary files
		// in /tmp (components/observability/kafka.go).
		Writes: []string{"/var/lib/kafka/data", "/tmp"},
		Data:   []string{"/var/lib/kafka/data"},
		// Into /tmp, run as kafka.go runs it: the rendered
		// server.properties, the JVMs' perf data (hsperfdata, 32 KiB each:
		// the broker's and its startup probe's) and a crash's hs_err file;
		// logs go to stdout. The image's defaults would add GC logs of up to
		// 10 x 100 MB and hourly log files kept for ever (bin/kafka-run-class.sh
		// -loggc, config/log4j2.yaml at 4.1.0).
		Scratch: map[string]string{"/tmp": "16Mi"},
		Tools: []string{"sh", "sed", "grep", "head", "cat", "sleep",
			"/opt/kafka/bin/kafka-storage.sh", "/opt/kafka/bin/kafka-server-start.sh",
			"/opt/kafka/bin/kafka-topics.sh", "/opt/kafka/bin/kafka-configs.sh", "/opt/kafka/bin/kafka-acls.sh"},
	},
	"docker.elastic.co/elasticsearch/elasticsearch:8.19.3": {
		// elastic/dockerfiles v8.19.3, elasticsearch/Dockerfile: FROM
		// ubuntu:24.04 (dash as /bin/sh, bash, GNU coreutils with base64
		// and chmod, grep), `apt-get install ... curl`; USER 1000:0; no VOLUME; ENTRYPOINT ["/bin/tini",
		// "--", "/usr/local/bin/docker-entrypoint.sh"], CMD ["eswrapper"].
		// Elasticsearch writes its keystore into config, its data and logs
		// under /usr/share/elasticsearch, and the JVM's files in /tmp.
		Source:           "elastic/dockerfiles v8.19.3, elasticsearch/Dockerfile",
		UID:              1000,
		Entrypoint:       []string{"/bin/tini", "--", "/usr/local/bin/docker-entrypoint.sh", "eswrapper"},
		EntrypointWrites: []string{"/usr/share/elasticsearch/config"},
		Writes: []string{"/usr/share/elasticsearch/config", "/usr/share/elasticsearch/data",
			"/usr/share/elasticsearch/logs", "/tmp"},
		Data: []string{"/usr/share/elasticsearch/data"},
		// Run as elasticsearch.go runs it: config holds the settings, the
		// keystore and the certificates (kilobytes); logs only a crash's
		// hs_err and replay files (jvm.options: -XX:ErrorFile,
		// -XX:ReplayDataFile), the server's own logs going to the console
		// in the image and the GC log turned off (-Xlog:disable; the
		// image's jvm.options writes up to 32 x 64 MB of it); /tmp the JNA
		// library ES_TMPDIR unpacks and the JVM's perf data.
		Scratch: map[string]string{"/usr/share/elasticsearch/config": "8Mi", "/usr/share/elasticsearch/logs": "64Mi", "/tmp": "64Mi"},
		// elasticsearch-keystore: the distribution's bin/, which the
		// image's own entrypoint calls (docker-entrypoint.sh).
		Tools: []string{"sh", "bash", "cp", "chmod", "cat", "sleep", "curl", "grep", "touch", "base64",
			"/usr/share/elasticsearch/bin/elasticsearch-keystore"},
	},
	"docker.elastic.co/logstash/logstash:8.19.3": {
		// elastic/dockerfiles v8.19.3, logstash/Dockerfile: FROM ubuntu:24.04;
		// `useradd --uid 1000 ... logstash`; USER 1000; no VOLUME; ENTRYPOINT
		// ["/usr/local/bin/docker-entrypoint"], which rewrites
		// config/logstash.yml from the environment (env2yaml). Logstash
		// writes path.data (the persistent queue), its logs and /tmp.
		Source:           "elastic/dockerfiles v8.19.3, logstash/Dockerfile",
		UID:              1000,
		Entrypoint:       []string{"/usr/local/bin/docker-entrypoint"},
		EntrypointWrites: []string{"/usr/share/logstash/config"},
		Writes:           []string{"/usr/share/logstash/data", "/usr/share/logstash/logs", "/tmp"},
		Data:             []string{"/usr/share/logstash/data"},
		// Logstash logs to the console in the image (its log4j2.properties);
		// logs gets a crash's hs_err file, /tmp the native libraries JRuby
		// unpacks (jffi) and the JVM's perf data.
		Scratch: map[string]string{"/usr/share/logstash/logs": "16Mi", "/tmp": "64Mi"},
		Tools:   []string{"/usr/share/logstash/bin/logstash"},
	},
	"docker.elastic.co/kibana/kibana:8.19.3": {
		// elastic/dockerfiles v8.19.3, kibana/Dockerfile: FROM ubuntu:24.04;
		// `useradd --uid 1000 ... kibana`; USER 1000; no VOLUME; ENTRYPOINT
		// ["/bin/tini", "--"], CMD ["/usr/local/bin/kibana-docker"]. Kibana
		// writes path.data (/usr/share/kibana/data) and /tmp.
		Source:     "elastic/dockerfiles v8.19.3, kibana/Dockerfile",
		UID:        1000,
		Entrypoint: []string{"/bin/tini", "--", "/usr/local/bin/kibana-docker"},
		Writes:     []string{"/usr/share/kibana/data", "/tmp"},
		// path.data holds Kibana's uuid file; Node writes no temporary files
		// of its own; Kibana logs to the console.
		Scratch: map[string]string{"/usr/share/kibana/data": "16Mi", "/tmp": "16Mi"},
	},
	"docker.elastic.co/beats/filebeat:8.19.3": {
		// elastic/beats dev-tools/packaging/templates/docker/Dockerfile.tmpl
		// (8.19): `useradd -M --uid 1000 ... filebeat`, USER filebeat, no
		// VOLUME, ENTRYPOINT ["/usr/local/bin/docker-entrypoint"], CMD
		// ["-environment", "container"]; data and logs under
		// /usr/share/filebeat. Elastic's "Run Filebeat on Docker" runs it
		// with --user=root to read the nodes' log files, as the pod does.
		// With -e it logs to stderr; it writes its registry in path.data.
		Source:     "elastic/beats 8.19, dev-tools/packaging/templates/docker/Dockerfile.tmpl",
		UID:        1000,
		Entrypoint: []string{"/usr/local/bin/docker-entrypoint", "-environment", "container"},
		Writes:     []string{"/usr/share/filebeat/data"},
	},
	"jaegertracing/jaeger:2.10.0": {
		// jaegertracing/jaeger v1.73.0 (Jaeger 2.10.0), cmd/jaeger/Dockerfile:
		// ARG USER_UID=10001, USER ${USER_UID}; VOLUME ["/tmp"]; ENTRYPOINT
		// ["/cmd/jaeger/jaeger-linux"]. Memory storage writes nothing
		// else; /tmp is its declared scratch space.
		Source:     "jaegertracing/jaeger v1.73.0, cmd/jaeger/Dockerfile",
		UID:        10001,
		Volumes:    []string{"/tmp"},
		Entrypoint: []string{"/cmd/jaeger/jaeger-linux"},
		Writes:     []string{"/tmp"},
		// With memory storage or Elasticsearch, Jaeger keeps nothing on disk.
		Scratch: map[string]string{"/tmp": "16Mi"},
	},
	"quay.io/oauth2-proxy/oauth2-proxy:v7.15.6": {
		// oauth2-proxy v7.15.6, Dockerfile: FROM
		// gcr.io/distroless/static:nonroot (USER 65532), the binary at
		// /bin/oauth2-proxy, ENTRYPOINT ["/bin/oauth2-proxy"], no VOLUME;
		// it keeps its sessions in cookies and writes nothing.
		Source:     "oauth2-proxy v7.15.6, Dockerfile",
		UID:        65532,
		Entrypoint: []string{"/bin/oauth2-proxy"},
	},
	"jaegertracing/jaeger-es-index-cleaner:1.73.0": {
		// jaegertracing/jaeger v1.73.0, cmd/es-index-cleaner/Dockerfile:
		// USER ${USER_UID} (10001); ENTRYPOINT
		// ["/go/bin/es-index-cleaner-linux"]; it only calls Elasticsearch.
		Source:     "jaegertracing/jaeger v1.73.0, cmd/es-index-cleaner/Dockerfile",
		UID:        10001,
		Entrypoint: []string{"/go/bin/es-index-cleaner-linux"},
	},
	"busybox:1.37.0": {
		// docker-library/busybox 1.37.0: FROM scratch, the busybox rootfs,
		// CMD ["sh"]; no USER, so root; every applet linked in /bin.
		Source:     "docker-library/busybox 1.37.0, Dockerfile",
		UID:        0,
		Entrypoint: []string{"sh"},
		Tools:      []string{"sh", "sysctl", "cat", "sleep"},
	},
}
