package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// writeKubeconfigs writes the admin kubeconfig and the one the controller managers use. Both
// embed their certificates, so the files work from any working directory.
func (c *Cluster) writeKubeconfigs() error {
	c.KubeconfigPath = filepath.Join(c.Dir, "admin.kubeconfig")
	if err := c.writeKubeconfig(c.KubeconfigPath, "admin", c.tls.admin); err != nil {
		return err
	}
	return c.writeKubeconfig(filepath.Join(c.Dir, "controller-manager.kubeconfig"), "controller-manager", c.tls.controllerManager)
}

func (c *Cluster) writeKubeconfig(path, user string, credentials keyPair) error {
	caPEM, err := os.ReadFile(c.tls.ca.certFile)
	if err != nil {
		return err
	}
	config := clientcmdapi.NewConfig()
	config.Clusters["testcluster"] = &clientcmdapi.Cluster{
		Server:                   c.Host,
		CertificateAuthorityData: caPEM,
	}
	config.AuthInfos[user] = &clientcmdapi.AuthInfo{
		ClientCertificateData: credentials.CertPEM,
		ClientKeyData:         credentials.KeyPEM,
	}
	config.Contexts["testcluster"] = &clientcmdapi.Context{Cluster: "testcluster", AuthInfo: user, Namespace: "default"}
	config.CurrentContext = "testcluster"
	if err := clientcmd.WriteToFile(*config, path); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return nil
}

func (c *Cluster) makeClients() error {
	config, err := clientcmd.BuildConfigFromFlags("", c.KubeconfigPath)
	if err != nil {
		return fmt.Errorf("load admin kubeconfig %s: %w", c.KubeconfigPath, err)
	}
	// The defaults (5 requests per second, bursts of 10) would slow down polling helpers.
	config.QPS = 100
	config.Burst = 200
	config.UserAgent = "kubectl-mlflow-e2e-harness"
	c.Config = config

	if c.Client, err = kubernetes.NewForConfig(config); err != nil {
		return fmt.Errorf("create clientset: %w", err)
	}
	if c.Dynamic, err = dynamic.NewForConfig(config); err != nil {
		return fmt.Errorf("create dynamic client: %w", err)
	}
	return nil
}

// RESTConfig returns a copy of the admin client configuration that the caller may change.
func (c *Cluster) RESTConfig() *rest.Config {
	return rest.CopyConfig(c.Config)
}

// KubectlEnv returns the environment of the test process with KUBECONFIG set to the admin
// kubeconfig, for running kubectl or the kubectl-mlflow plugin against the cluster.
func (c *Cluster) KubectlEnv() []string {
	env := make([]string, 0, len(os.Environ())+1)
	for _, variable := range os.Environ() {
		if !strings.HasPrefix(variable, "KUBECONFIG=") {
			env = append(env, variable)
		}
	}
	return append(env, "KUBECONFIG="+c.KubeconfigPath)
}

// KubectlCommand returns a command that runs kubectl from PATH with the given arguments against
// the cluster. The caller runs it, for example with Output.
func (c *Cluster) KubectlCommand(args ...string) *exec.Cmd {
	cmd := exec.Command("kubectl", args...)
	cmd.Env = c.KubectlEnv()
	return cmd
}
