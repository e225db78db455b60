package kube

import (
	"errors"
	"regexp"
	"strings"
)

// ValidateImageReference accepts [registry/]repository(:tag)?(@sha256:digest)?
// with a tag other than "latest" or a digest, and says what is wrong otherwise.
func ValidateImageReference(ref string) error {
	m := imageReference.FindStringSubmatch(ref)
	if m == nil {
		return errors.New("must be an image reference such as ghcr.io/acme/greeter:1.2.3 or ...@sha256:<64 hex digits>")
	}
	tag, digest := m[3], m[4]
	switch {
	case tag == "latest":
		return errors.New(`must not use the "latest" tag: pin a version or a digest`)
	case tag == "" && digest == "":
		return errors.New("must name a version tag or a digest (an untagged reference means latest)")
	}
	return nil
}

// imageReference is [host[:port]/]path[:tag][@sha256:digest].
var imageReference = regexp.MustCompile(`^(?:([a-z0-9.-]+(?::[0-9]+)?)/)?` +
	`([a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)` +
	`(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$`)

var (
	dnsLabel  = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	hostLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

// IsDNSLabel says whether name can name a namespace or a service: lower-case
// letters, digits and '-', starting with a letter, at most 63.
func IsDNSLabel(name string) bool { return dnsLabel.MatchString(name) }

// IsHostName says whether host is a DNS name an Ingress can serve.
func IsHostName(host string) bool {
	if host == "" || len(host) > 253 {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		if len(label) > 63 || !hostLabel.MatchString(label) {
			return false
		}
	}
	return true
}
