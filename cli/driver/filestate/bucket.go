package filestate

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/s3blob" // s3:// URLs, as the Pulumi CLI opens them
	"gocloud.dev/gcerrors"
)

// Bucket is an S3 bucket holding a self-managed backend, named by the
// backend's URL (s3://bucket?endpoint=…&region=…, the query the CLI takes),
// opened with the same blob library and credentials as the CLI.
type Bucket string

// IsBucket says whether a backend URL names a bucket Bucket can open.
func IsBucket(url string) bool { return strings.HasPrefix(url, "s3://") }

// Locks reads the locks of the stack from the bucket.
func (b Bucket) Locks(ctx context.Context, project, stack string) ([]Lock, error) {
	bucket, err := blob.OpenBucket(ctx, string(b))
	if err != nil {
		return nil, fmt.Errorf("opening the state bucket: %w", err)
	}
	defer bucket.Close()
	var locks []Lock
	it := bucket.List(&blob.ListOptions{Prefix: ".pulumi/locks/"})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			return locks, nil
		}
		if err != nil {
			return nil, fmt.Errorf("listing the state bucket's locks: %w", err)
		}
		if matched, _ := path.Match(".pulumi/locks/*/"+project+"/"+stack+"/*.json", obj.Key); !matched {
			continue
		}
		data, err := bucket.ReadAll(ctx, obj.Key)
		if gcerrors.Code(err) == gcerrors.NotFound {
			continue // released meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("reading the lock %s: %w", obj.Key, err)
		}
		locks = append(locks, parseLock(obj.Key, data))
	}
}

// Remove deletes the lock's object.
func (b Bucket) Remove(ctx context.Context, l Lock) error {
	bucket, err := blob.OpenBucket(ctx, string(b))
	if err != nil {
		return fmt.Errorf("opening the state bucket: %w", err)
	}
	defer bucket.Close()
	if err := bucket.Delete(ctx, l.Path); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return err
	}
	return nil
}

// Unrecorded reads the stack's mark from the bucket: nil when there is none.
func (b Bucket) Unrecorded(ctx context.Context, project, stack string) (*Unrecorded, error) {
	bucket, err := blob.OpenBucket(ctx, string(b))
	if err != nil {
		return nil, fmt.Errorf("opening the state bucket: %w", err)
	}
	defer bucket.Close()
	key := unrecordedKey(project, stack)
	data, err := bucket.ReadAll(ctx, key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	return parseUnrecorded(key, data), nil
}

// SetUnrecorded writes the stack's mark to the bucket (an object is written
// whole or not at all), or removes it when u is nil.
func (b Bucket) SetUnrecorded(ctx context.Context, project, stack string, u *Unrecorded) error {
	bucket, err := blob.OpenBucket(ctx, string(b))
	if err != nil {
		return fmt.Errorf("opening the state bucket: %w", err)
	}
	defer bucket.Close()
	key := unrecordedKey(project, stack)
	if u == nil {
		if err := bucket.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return err
		}
		return nil
	}
	data, err := json.Marshal(u)
	if err != nil {
		return err
	}
	return bucket.WriteAll(ctx, key, data, nil)
}

// Checkpoint fingerprints the stack's state as the bucket holds it, from
// its objects' attributes (no download): it changes with every write.
func (b Bucket) Checkpoint(ctx context.Context, project, stack string) (string, error) {
	bucket, err := blob.OpenBucket(ctx, string(b))
	if err != nil {
		return "", fmt.Errorf("opening the state bucket: %w", err)
	}
	defer bucket.Close()
	var fingerprint strings.Builder
	for _, key := range checkpointKeys(project, stack) {
		attrs, err := bucket.Attributes(ctx, key)
		if gcerrors.Code(err) == gcerrors.NotFound {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("reading the attributes of %s: %w", key, err)
		}
		fmt.Fprintf(&fingerprint, "%s %d %x %s %s\n", key, attrs.Size, attrs.MD5, attrs.ETag, attrs.ModTime.Format(time.RFC3339Nano))
	}
	return fingerprint.String(), nil
}
