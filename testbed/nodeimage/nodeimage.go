// Package nodeimage builds the images the local cluster's real node runs (the
// greeter, Jaeger and the pod sandbox) without Docker or a registry: each is a
// one-layer OCI image made from files of this machine and written as an OCI
// archive, which `ctr images import` loads into containerd under the
// references the stacks use.
package nodeimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Image is an image to build: its files (one layer) and its config.
type Image struct {
	// Name is the reference it is imported under: repository:tag.
	Name   string
	Files  []File
	Config v1.Config
}

// File is a file or, with Content nil and Dir set, a folder of the image.
type File struct {
	Path    string // absolute, in the image
	Mode    fs.FileMode
	Content []byte
	Dir     bool
}

// Built is a built image.
type Built struct {
	Name  string
	Image v1.Image
}

// Repository is the name without its tag.
func (b Built) Repository() string {
	if i := strings.LastIndex(b.Name, ":"); i > strings.LastIndex(b.Name, "/") {
		return b.Name[:i]
	}
	return b.Name
}

// Pinned is the reference by digest: repository@sha256:...
func (b Built) Pinned() (string, error) {
	digest, err := b.Image.Digest()
	if err != nil {
		return "", err
	}
	return b.Repository() + "@" + digest.String(), nil
}

// Build makes the image. The same files and config make the same digest:
// every entry has a fixed owner and time, and the config no creation date.
func (i Image) Build() (Built, error) {
	layerTar, err := i.layer()
	if err != nil {
		return Built{}, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return Built{}, err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return Built{}, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return Built{}, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	cfg.Config = i.Config
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return Built{}, err
	}
	return Built{Name: i.Name, Image: img}, nil
}

// layer is the image's one layer, an uncompressed tar with every parent
// folder of every file, in path order.
func (i Image) layer() ([]byte, error) {
	entries := map[string]File{}
	for _, f := range i.Files {
		entries[strings.TrimPrefix(f.Path, "/")] = f
		for dir := filepath.Dir(f.Path); dir != "/"; dir = filepath.Dir(dir) {
			if _, ok := entries[strings.TrimPrefix(dir, "/")]; !ok {
				entries[strings.TrimPrefix(dir, "/")] = File{Path: dir, Mode: 0o755, Dir: true}
			}
		}
	}
	paths := make([]string, 0, len(entries))
	for p := range entries {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	for _, p := range paths {
		f := entries[p]
		h := &tar.Header{Name: p, Mode: int64(f.Mode.Perm()), Format: tar.FormatPAX}
		if f.Mode&fs.ModeSticky != 0 {
			h.Mode |= 0o1000
		}
		if f.Dir {
			h.Typeflag, h.Name = tar.TypeDir, p+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.Content))
		}
		if err := w.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := w.Write(f.Content); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteArchive writes the images as one OCI archive (a tar of an OCI image
// layout) that `ctr images import` reads. Each image is listed under its name
// and under its digest reference, so that containerd's CRI resolves a pod's
// image given either way (a pull would record both; an import records only
// the names the index gives).
func WriteArchive(path string, images ...Built) error {
	dir, err := os.MkdirTemp(filepath.Dir(path), ".oci-layout-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	for _, b := range images {
		pinned, err := b.Pinned()
		if err != nil {
			return err
		}
		for _, name := range []string{ContainerdName(b.Name), ContainerdName(pinned)} {
			if err := p.AppendImage(b.Image, layout.WithAnnotations(map[string]string{
				"io.containerd.image.name": name,
			})); err != nil {
				return fmt.Errorf("writing %s: %w", name, err)
			}
		}
	}
	return tarFolder(dir, path)
}

// ContainerdName is a reference as containerd (and the kubelet) name it:
// Docker Hub's references in full, docker.io/library/busybox:1 for busybox:1.
func ContainerdName(ref string) string {
	first, _, found := strings.Cut(ref, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return ref
	}
	if !found {
		return "docker.io/library/" + ref
	}
	return "docker.io/" + ref
}

// tarFolder writes the folder's files, relative to it, as a tar at path.
func tarFolder(dir, path string) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	w := tar.NewWriter(out)
	err = w.AddFS(os.DirFS(dir))
	if closeErr := w.Close(); err == nil {
		err = closeErr
	}
	if closeErr := out.Close(); err == nil {
		err = closeErr
	}
	return err
}
