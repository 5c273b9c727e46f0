package httpfront

import (
	"errors"
	"io"
	"mime/multipart"
	"os"
	"path/filepath"
	"strings"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/protocol"
	"go.uber.org/zap"
)

const tempPattern = "upload"

// storeUpload moves or copies the part into a temp file of the uploads dir that PHP can read; the
// handler removes it after the response.
func storeUpload(f *protocol.FileUpload, cfg *Uploads, uid, gid int) error {
	ext := strings.ToLower(filepath.Ext(f.Name))
	if _, forbidden := cfg.Forbidden[ext]; forbidden {
		f.Error = protocol.UploadErrExtension
		return nil
	}
	if len(cfg.Allowed) > 0 {
		if _, ok := cfg.Allowed[ext]; !ok {
			f.Error = protocol.UploadErrExtension
			return nil
		}
	}

	src, err := f.Part.Open()
	if err != nil {
		f.Error = protocol.UploadErrNoFile
		return err
	}
	defer func() { _ = src.Close() }()

	tmp, err := os.CreateTemp(cfg.Dir, tempPattern)
	if err != nil {
		f.Error = protocol.UploadErrNoTmpDir
		return err
	}
	f.TmpName = tmp.Name()

	// Large parts already sit in a Go temp file: renaming it avoids copying megabytes.
	if disk, ok := src.(*os.File); ok {
		if errR := os.Rename(disk.Name(), f.TmpName); errR == nil {
			_ = tmp.Close()
			f.Size = f.Part.Size
			return chownUpload(f.TmpName, uid, gid)
		}
	}

	defer func() { _ = tmp.Close() }()
	if f.Size, err = io.Copy(tmp, src); err != nil {
		f.Error = protocol.UploadErrCantWrite
		return err
	}
	return chownUpload(f.TmpName, uid, gid)
}

func chownUpload(name string, uid, gid int) error {
	if uid > 0 && gid > 0 {
		return os.Chown(name, uid, gid)
	}
	return nil
}

// errUploadTooLarge: a file of the form is larger than pivot.uploads.max_size.
var errUploadTooLarge = errors.New("an uploaded file exceeds pivot.uploads.max_size")

// tooLarge reports whether a file of the form is larger than max (0: no limit).
func tooLarge(mf *multipart.Form, max int64) bool {
	if max <= 0 {
		return false
	}
	for _, headers := range mf.File {
		for _, h := range headers {
			if h.Size > max {
				return true
			}
		}
	}
	return false
}

// parseMultipart fills the form tree and the uploads tree from a parsed multipart form; a file
// over cfg.MaxSize refuses the whole request (errUploadTooLarge) before any file is stored.
func (st *requestState) parseMultipart(mf *multipart.Form, cfg *Uploads, uid, gid int, log *zap.Logger) error {
	if tooLarge(mf, cfg.MaxSize) {
		return errUploadTooLarge
	}
	form := make(protocol.DataTree, len(mf.Value))
	for _, k := range sortedKeys(mf.Value) {
		if err := form.PushValues(k, mf.Value[k]); err != nil {
			return err
		}
	}
	files := make(protocol.DataTree, len(mf.File))
	for _, k := range sortedKeys(mf.File) {
		headers := mf.File[k]
		list := make([]*protocol.FileUpload, 0, len(headers))
		for _, h := range headers {
			fu := &protocol.FileUpload{Name: h.Filename, MIME: h.Header.Get("Content-Type"), Part: h}
			if err := storeUpload(fu, cfg, uid, gid); err != nil {
				log.Error("upload could not be stored", zap.String("file", h.Filename), zap.Error(err))
			}
			st.uploads = append(st.uploads, fu)
			list = append(list, fu)
		}
		if err := files.PushFiles(k, list); err != nil {
			return err
		}
	}
	st.form = form
	st.files = files
	return nil
}

// removeUploads deletes the temp files once the response has been written.
func (st *requestState) removeUploads(log *zap.Logger) {
	for _, f := range st.uploads {
		if f.TmpName == "" {
			continue
		}
		if err := os.Remove(f.TmpName); err != nil && !os.IsNotExist(err) {
			log.Error("upload temp file could not be removed", zap.String("file", f.TmpName), zap.Error(err))
		}
	}
}
