package pki

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
)

// LoadOrCreateToken returns the bearer token stored in file, creating a
// random one when the file does not exist.
func LoadOrCreateToken(file string) (string, error) {
	if b, err := os.ReadFile(file); err == nil {
		if tok := strings.TrimSpace(string(b)); tok != "" {
			return tok, nil
		}
	} else if !os.IsNotExist(err) {
		return "", fmt.Errorf("pki: read token %s: %w", file, err)
	}
	buf := make([]byte, 24)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("pki: generate token: %w", err)
	}
	tok := hex.EncodeToString(buf)
	if err := os.WriteFile(file, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("pki: write token %s: %w", file, err)
	}
	return tok, nil
}
