// Package explain implements `kubectl mlflow explain-hpa`.
package explain

import (
	"errors"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// NewCmdExplainHPA builds the explain-hpa command.
func NewCmdExplainHPA(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "explain-hpa [NAME]",
		Short: "Explain the HPA controller's next decision, step by step",
		RunE: func(_ *cobra.Command, _ []string) error {
			return errors.New("explain-hpa is under construction")
		},
	}
}
