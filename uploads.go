package pivot

import (
	"io"
	"mime/multipart"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// PHP's UPLOAD_ERR_* codes, as RoadRunner reports them.
const (
	uploadErrOK        = 0
	uploadErrNoFile    = 4
	uploadErrNoTmpDir  = 6
	uploadErrCantWrite = 7
	uploadErrExtension = 8

	tempPattern = "upload"
)

// fileUpload is one uploaded file as the worker sees it in the `uploads` tree.
type fileUpload struct {
	name    string
	mime    string
	size    int64
	err     int
	tmpName string
	header  *multipart.FileHeader
}

func (f *fileUpload) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"name":`...)
	dst = appendJSONString(dst, f.name)
	dst = append(dst, `,"mime":`...)
	dst = appendJSONString(dst, f.mime)
	dst = append(dst, `,"size":`...)
	dst = strconv.AppendInt(dst, f.size, 10)
	dst = append(dst, `,"error":`...)
	dst = strconv.AppendInt(dst, int64(f.err), 10)
	dst = append(dst, `,"tmpName":`...)
	dst = appendJSONString(dst, f.tmpName)
	return append(dst, '}')
}

// store moves or copies the part into a temp file of the uploads dir that PHP can read; the
// handler removes it after the response.
func (f *fileUpload) store(cfg *UploadsConfig, uid, gid int) error {
	ext := strings.ToLower(filepath.Ext(f.name))
	if _, forbidden := cfg.forbidden[ext]; forbidden {
		f.err = uploadErrExtension
		return nil
	}
	if len(cfg.allowed) > 0 {
		if _, ok := cfg.allowed[ext]; !ok {
			f.err = uploadErrExtension
			return nil
		}
	}

	src, err := f.header.Open()
	if err != nil {
		f.err = uploadErrNoFile
		return err
	}
	defer func() { _ = src.Close() }()

	tmp, err := os.CreateTemp(cfg.Dir, tempPattern)
	if err != nil {
		f.err = uploadErrNoTmpDir
		return err
	}
	f.tmpName = tmp.Name()

	// Large parts already sit in a Go temp file: renaming it avoids copying megabytes.
	if disk, ok := src.(*os.File); ok {
		if errR := os.Rename(disk.Name(), f.tmpName); errR == nil {
			_ = tmp.Close()
			f.size = f.header.Size
			return chownUpload(f.tmpName, uid, gid)
		}
	}

	defer func() { _ = tmp.Close() }()
	if f.size, err = io.Copy(tmp, src); err != nil {
		f.err = uploadErrCantWrite
		return err
	}
	return chownUpload(f.tmpName, uid, gid)
}

func chownUpload(name string, uid, gid int) error {
	if uid > 0 && gid > 0 {
		return os.Chown(name, uid, gid)
	}
	return nil
}

// parseMultipart fills the form tree and the uploads tree from a parsed multipart form.
func (st *requestState) parseMultipart(mf *multipart.Form, cfg *UploadsConfig, uid, gid int, log *zap.Logger) error {
	form := make(dataTree, len(mf.Value))
	for k, v := range mf.Value {
		if err := form.pushValues(k, v); err != nil {
			return err
		}
	}
	files := make(dataTree, len(mf.File))
	for k, headers := range mf.File {
		list := make([]*fileUpload, 0, len(headers))
		for _, h := range headers {
			fu := &fileUpload{name: h.Filename, mime: h.Header.Get("Content-Type"), header: h}
			if err := fu.store(cfg, uid, gid); err != nil {
				log.Error("upload could not be stored", zap.String("file", h.Filename), zap.Error(err))
			}
			st.uploads = append(st.uploads, fu)
			list = append(list, fu)
		}
		if err := files.pushFiles(k, list); err != nil {
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
		if f.tmpName == "" {
			continue
		}
		if err := os.Remove(f.tmpName); err != nil && !os.IsNotExist(err) {
			log.Error("upload temp file could not be removed", zap.String("file", f.tmpName), zap.Error(err))
		}
	}
}
