package defaultbinder

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestBind(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fail    error
		wantErr string
	}{
		{name: "binds with the pod's UID"},
		{name: "reports the API error", fail: errors.New("boom"), wantErr: "bind ns/p to n1: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset()
			var got *corev1.Binding
			cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
				if a.GetSubresource() != "binding" {
					return false, nil, nil
				}
				got = a.(k8stesting.CreateAction).GetObject().(*corev1.Binding)
				return true, nil, tc.fail
			})
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "u1"}}
			st := New(cs).Bind(context.Background(), nil, pod, "n1")
			if tc.wantErr != "" {
				if st.IsSuccess() || !strings.Contains(st.Message(), tc.wantErr) {
					t.Fatalf("status %q, want %q", st.Message(), tc.wantErr)
				}
				return
			}
			if !st.IsSuccess() {
				t.Fatal(st.Message())
			}
			if got == nil || got.Name != "p" || got.UID != "u1" || got.Target.Kind != "Node" || got.Target.Name != "n1" {
				t.Fatalf("binding %+v", got)
			}
		})
	}
}
