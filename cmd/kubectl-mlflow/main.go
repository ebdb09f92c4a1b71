// Command kubectl-mlflow is the kubectl plugin `kubectl mlflow`. kubectl finds it on PATH by its name.
package main

import (
	"fmt"
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/component-base/cli"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/cmd"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	root := cmd.NewCmdRoot(streams)
	// Errors are printed once, as kubectl prints them, instead of as a klog line.
	if err := cli.RunNoErrOutput(root); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}
