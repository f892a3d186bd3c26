package server

import (
	"fmt"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// writeKubeconfig writes an admin kubeconfig for url to file.
func writeKubeconfig(file, url string, caPEM []byte, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["berth"] = &clientcmdapi.Cluster{Server: url, CertificateAuthorityData: caPEM}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["berth"] = &clientcmdapi.Context{Cluster: "berth", AuthInfo: "admin", Namespace: "default"}
	cfg.CurrentContext = "berth"
	if err := clientcmd.WriteToFile(*cfg, file); err != nil {
		return fmt.Errorf("server: write kubeconfig %s: %w", file, err)
	}
	return nil
}
