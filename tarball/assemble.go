package tarball

import (
	"fmt"
	"io"
	"os"

	"github.com/vbatts/tar-split/tar/asm"
	"github.com/vbatts/tar-split/tar/storage"

	"github.com/imgtool/imgtool/overlay"
)

// Assemble writes the exact original layer tar to w, from the gzipped
// tar-split stream that Apply recorded and the layer directory dir
// (Docker's getTarStream, docker-formats.md §3.7). Every file's content is
// checked against its recorded crc64.
func Assemble(tarSplit io.Reader, dir string, w io.Writer) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	gz, err := getGzipReader(tarSplit)
	if err != nil {
		return fmt.Errorf("reading tar-split: %w", err)
	}
	defer putGzipReader(gz)
	chain, err := overlay.NewDirChain(root)
	if err != nil {
		return err
	}
	defer chain.Close()
	up := newLineUnpacker(gz)
	defer up.release()
	return asm.WriteOutputTarStream(rootFileGetter{root, chain}, up, w)
}

// CheckedReader is Assemble as a stream: every file is checked against
// its crc64, so a modified file is named (`check --deep`). Closing it stops
// the assembly and waits for it, so tarSplit is no longer read once Close
// returns. Save and the other converters use AssembleReader.
func CheckedReader(tarSplit io.Reader, dir string) io.ReadCloser {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		// tar-split writes every header and segment separately; batch them so
		// the pipe hands over large chunks, not one goroutine switch each.
		bw := assemblyWriters.get(pw)
		err := Assemble(tarSplit, dir, bw)
		if err == nil {
			err = bw.Flush()
		}
		assemblyWriters.put(bw)
		pw.CloseWithError(err)
	}()
	return &assembleReader{pr: pr, done: done}
}

type assembleReader struct {
	pr   *io.PipeReader
	done chan struct{}
}

func (a *assembleReader) Read(p []byte) (int, error) { return a.pr.Read(p) }

func (a *assembleReader) Close() error {
	a.pr.Close()
	<-a.done
	return nil
}

// rootFileGetter opens tar-split file entries inside the layer root, with the
// same clamping Apply used to write them. (Docker's path getter joins names
// onto the root, so "../../x" would read a host file.) Entries come in tar
// order, so the chain serves their parent directories (overlay.OpenRegular).
type rootFileGetter struct {
	root  *os.Root
	chain *overlay.DirChain
}

// Get opens a file entry's content. Only regular files are read.
func (g rootFileGetter) Get(name string) (io.ReadCloser, error) {
	rc, _, err := overlay.OpenRegular(g.root, g.chain, overlay.Clean(name))
	if err != nil {
		return nil, fmt.Errorf("layer entry %q: %w", name, err)
	}
	return rc, nil
}

// TarSize is the length of the tar Assemble would write, from the tar-split
// entries alone: raw segment bytes plus file sizes. File content is not read.
func TarSize(tarSplit io.Reader) (int64, error) {
	gz, err := getGzipReader(tarSplit)
	if err != nil {
		return 0, fmt.Errorf("reading tar-split: %w", err)
	}
	defer putGzipReader(gz)
	up := newLineUnpacker(gz)
	defer up.release()
	var n int64
	for {
		e, err := up.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return 0, fmt.Errorf("reading tar-split: %w", err)
		}
		switch e.Type {
		case storage.SegmentType:
			n += int64(len(e.Payload))
		case storage.FileType:
			n += e.Size
		}
	}
}
