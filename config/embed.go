package config

import _ "embed"

// Default is the embedded default configuration, config/tap.yaml.
//
//go:embed tap.yaml
var Default []byte
