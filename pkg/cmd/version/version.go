// Package version implements `kubectl mlflow version`.
package version

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	buildinfo "github.com/kubectl-mlflow/kubectl-mlflow/pkg/version"
)

// NewCmdVersion builds the version command.
func NewCmdVersion(streams genericiooptions.IOStreams) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "version",
		Short: "Print the version of kubectl mlflow",
		Example: `  kubectl mlflow version
  kubectl mlflow version -o json`,
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			info := buildinfo.Get()
			switch output {
			case "":
				_, err := fmt.Fprintf(streams.Out, "kubectl-mlflow %s (commit %s, built %s, %s, %s)\n",
					info.Version, info.GitCommit, info.BuildDate, info.GoVersion, info.Platform)
				return err
			case "json":
				data, err := json.MarshalIndent(info, "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(streams.Out, string(data))
				return err
			case "yaml":
				data, err := yaml.Marshal(info)
				if err != nil {
					return err
				}
				_, err = streams.Out.Write(data)
				return err
			default:
				return fmt.Errorf("invalid --output %q: allowed formats are json and yaml", output)
			}
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "Output format: json or yaml. Default: one line of text.")
	return c
}
