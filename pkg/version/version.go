// Package version holds the build information stamped in through -ldflags -X.
package version

import "runtime"

// These variables are set at build time, for example:
//
//	go build -ldflags "-X github.com/kubectl-mlflow/kubectl-mlflow/pkg/version.Version=v0.1.0"
//
// An unstamped build reports "dev" and "unknown".
var (
	Version   = "dev"
	GitCommit = "unknown"
	BuildDate = "unknown"
)

// Info is the build information printed by `kubectl mlflow version`.
type Info struct {
	Version   string `json:"version"`
	GitCommit string `json:"gitCommit"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the build information of the running binary.
func Get() Info {
	return Info{
		Version:   Version,
		GitCommit: GitCommit,
		BuildDate: BuildDate,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
}
