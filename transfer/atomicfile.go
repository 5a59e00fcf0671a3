package transfer

import (
	"io"
	"os"
	"path/filepath"
)

// OutputFile is an archive being written to path: a temp file beside it,
// renamed over path by Commit once complete (fsynced first unless made
// with durable false: --no-sync), removed by
// Abort, so a failed or interrupted save, export or flatten leaves no
// half-written file. It streams, which moby's atomicwriter (the store's
// small files) cannot abort on a producer's error; this is the one helper
// for streamed outputs.
type OutputFile struct {
	f       *os.File
	path    string
	durable bool // fsync before the rename
}

// CreateOutput starts writing path; durable fsyncs it before the rename.
func CreateOutput(path string, durable bool) (*OutputFile, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return nil, err
	}
	return &OutputFile{f: f, path: path, durable: durable}, nil
}

func (o *OutputFile) Write(p []byte) (int, error) { return o.f.Write(p) }

// Commit syncs the file (when durable), makes it 0644 and renames it
// over path.
func (o *OutputFile) Commit() error {
	if o.durable {
		if err := o.f.Sync(); err != nil {
			o.Abort()
			return err
		}
	}
	if err := o.f.Chmod(0o644); err != nil {
		o.Abort()
		return err
	}
	if err := o.f.Close(); err != nil {
		os.Remove(o.f.Name())
		return err
	}
	if err := os.Rename(o.f.Name(), o.path); err != nil {
		os.Remove(o.f.Name())
		return err
	}
	return nil
}

// Abort removes the temp file; after Commit it does nothing.
func (o *OutputFile) Abort() {
	o.f.Close()
	os.Remove(o.f.Name())
}

// writeFileAtomic writes path through an OutputFile.
func writeFileAtomic(path string, durable bool, write func(io.Writer) error) error {
	o, err := CreateOutput(path, durable)
	if err != nil {
		return err
	}
	if err := write(o); err != nil {
		o.Abort()
		return err
	}
	return o.Commit()
}
