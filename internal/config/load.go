package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// LoadOption changes how Load and Parse treat what a config file refers
// to.
type LoadOption func(*loadOptions)

type loadOptions struct {
	// missingSecretFilesOK: see MissingSecretFilesOK.
	missingSecretFilesOK bool
	// missingSecrets are the paths (sipgate.token) of the secrets whose
	// files were missing and count as set.
	missingSecrets []string
}

// MissingSecretFilesOK makes a secret file that does not exist a warning
// instead of an error, and the secret count as set: for checking a config
// away from where the service runs (the check-config command), where the
// secret files usually are not. A config loaded so is for reading, never
// for serving: the secrets of missing files are empty. Unreadable files
// and empty ones are errors still.
func MissingSecretFilesOK() LoadOption {
	return func(o *loadOptions) { o.missingSecretFilesOK = true }
}

// readSecret reads the secret at path (sipgate.token) from file, relative
// to dir, into into, when the file is set.
func (c *Config) readSecret(dir, path, file string, into *Secret, p *problems) {
	if file == "" {
		return
	}
	if *into != "" {
		p.add(path, "set either the value or the _file, not both")
		return
	}
	if !filepath.IsAbs(file) {
		file = filepath.Join(dir, file)
	}
	b, err := os.ReadFile(file)
	switch {
	case err != nil && c.load.missingSecretFilesOK && errors.Is(err, fs.ErrNotExist):
		c.load.missingSecrets = append(c.load.missingSecrets, path)
		c.warn(path+"_file", "%v: not checked here; the service needs it where it runs", err)
	case err != nil:
		p.add(path+"_file", "%v", err)
	case strings.TrimSpace(string(b)) == "":
		// An empty webhook.bearer_token would leave the webhook open.
		p.add(path+"_file", "%s is empty", file)
	default:
		*into = Secret(strings.TrimSpace(string(b)))
	}
}

// hasSecret reports whether the secret at path is set, or counts as set
// because its file is missing under MissingSecretFilesOK.
func (c *Config) hasSecret(path string, s Secret) bool {
	return s != "" || slices.Contains(c.load.missingSecrets, path)
}
