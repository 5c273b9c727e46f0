package protocol

import (
	"mime/multipart"
	"strconv"
)

// PHP's UPLOAD_ERR_* codes, as RoadRunner reports them in a file's "error".
const (
	UploadErrOK        = 0
	UploadErrNoFile    = 4
	UploadErrNoTmpDir  = 6
	UploadErrCantWrite = 7
	UploadErrExtension = 8
)

// FileUpload is one uploaded file as the worker sees it in the `uploads` tree. The HTTP front
// fills it from the multipart part (Part) when it stores the file.
type FileUpload struct {
	Name    string
	MIME    string
	Size    int64
	Error   int // an UploadErr* code
	TmpName string
	Part    *multipart.FileHeader
}

// AppendJSON appends the file as the worker reads it: {"name","mime","size","error","tmpName"}.
func (f *FileUpload) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"name":`...)
	dst = AppendJSONString(dst, f.Name)
	dst = append(dst, `,"mime":`...)
	dst = AppendJSONString(dst, f.MIME)
	dst = append(dst, `,"size":`...)
	dst = strconv.AppendInt(dst, f.Size, 10)
	dst = append(dst, `,"error":`...)
	dst = strconv.AppendInt(dst, int64(f.Error), 10)
	dst = append(dst, `,"tmpName":`...)
	dst = AppendJSONString(dst, f.TmpName)
	return append(dst, '}')
}
