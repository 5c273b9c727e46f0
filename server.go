package pivot

import (
	"net/http"

	"go.uber.org/zap"
)

// newHTTPServer builds the plugin's own HTTP/1.1 server around ServeHTTP.
func (p *Plugin) newHTTPServer() *http.Server {
	errLog, err := zap.NewStdLogAt(p.log, zap.WarnLevel)
	if err != nil {
		errLog = nil
	}
	return &http.Server{
		Addr:              p.cfg.Address,
		Handler:           p,
		ReadHeaderTimeout: p.cfg.ReadHeaderTimeout,
		ReadTimeout:       p.cfg.ReadTimeout,
		WriteTimeout:      p.cfg.WriteTimeout,
		IdleTimeout:       p.cfg.IdleTimeout,
		ErrorLog:          errLog,
	}
}
