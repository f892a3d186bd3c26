package registry

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func serviceTable() *TableConvertor {
	return &TableConvertor{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(""),
			column("Type", "string", "type determines how the Service is exposed.", 0),
			column("Cluster-IP", "string", "clusterIP is the IP address of the service and is usually assigned randomly.", 0),
			column("External-IP", "string", "List of IP addresses for which nodes in the cluster will also accept traffic for this service.", 0),
			column("Port(s)", "string", "The list of ports that are exposed by this service.", 0),
			ageColumn(),
			column("Selector", "string", "Route service traffic to pods with label keys and values matching this selector.", 1),
		},
		Row: func(obj runtime.Object) []interface{} {
			svc := obj.(*corev1.Service)
			return []interface{}{
				svc.Name,
				string(svc.Spec.Type),
				orNone(svc.Spec.ClusterIP),
				serviceExternalIP(svc),
				servicePorts(svc.Spec.Ports),
				since(svc.CreationTimestamp),
				mapSelectorString(svc.Spec.Selector),
			}
		},
	}
}

// serviceExternalIP renders the EXTERNAL-IP column: the external IPs, the
// load balancer ingress points ("<pending>" while there are none), or the
// external name.
func serviceExternalIP(svc *corev1.Service) string {
	switch svc.Spec.Type {
	case corev1.ServiceTypeExternalName:
		return svc.Spec.ExternalName
	case corev1.ServiceTypeLoadBalancer:
		var addrs []string
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			switch {
			case ing.IP != "":
				addrs = append(addrs, ing.IP)
			case ing.Hostname != "":
				addrs = append(addrs, ing.Hostname)
			}
		}
		addrs = append(addrs, svc.Spec.ExternalIPs...)
		if len(addrs) == 0 {
			return "<pending>"
		}
		return strings.Join(addrs, ",")
	}
	if len(svc.Spec.ExternalIPs) > 0 {
		return strings.Join(svc.Spec.ExternalIPs, ",")
	}
	return none
}

// servicePorts renders "80:30080/TCP,443/TCP", or "<none>".
func servicePorts(ports []corev1.ServicePort) string {
	if len(ports) == 0 {
		return none
	}
	parts := make([]string, 0, len(ports))
	for _, p := range ports {
		if p.NodePort != 0 {
			parts = append(parts, fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol))
		} else {
			parts = append(parts, fmt.Sprintf("%d/%s", p.Port, p.Protocol))
		}
	}
	return strings.Join(parts, ",")
}
