package tarball

import (
	"bufio"
	"fmt"
	"io"
	"os"
)

// WriteFile writes a small file next to an image the way the image is
// written: into a locked temporary file beside path, synced and renamed
// into place only when write succeeded, after removing the temporary
// files of path that earlier runs, killed while writing, left.
func WriteFile(path string, write func(io.Writer) error) (err error) {
	tmp, _, err := createTemp(path)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
			tmp.Close()
		}
	}()
	w := bufio.NewWriter(tmp)
	if err := write(w); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return finishFile(tmp, path)
}
