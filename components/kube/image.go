package kube

import (
	"errors"
	"regexp"
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
