package apiserver

import (
	"crypto/subtle"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// authenticate admits requests that carry one of the configured bearer
// tokens and answers 401 otherwise. Every authenticated user may do
// everything for now (no RBAC yet).
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		token, ok := strings.CutPrefix(auth, "Bearer ")
		if ok && s.validToken(strings.TrimSpace(token)) {
			next.ServeHTTP(w, r)
			return
		}
		s.metrics.unauthorized.Inc()
		s.writeError(w, r, apierrors.NewUnauthorized("Unauthorized"))
	})
}

func (s *Server) validToken(token string) bool {
	if token == "" {
		return false
	}
	found := false
	for t := range s.cfg.Tokens {
		if subtle.ConstantTimeCompare([]byte(t), []byte(token)) == 1 {
			found = true
		}
	}
	return found
}
