package proxy

import (
	"sync"
	"testing"
)

// TestCounts: the snapshot sums ports per Service, keeps a forgotten
// port's counts while the Service has other counted ports, and drops the
// Service with its last one.
func TestCounts(t *testing.T) {
	m := NewMetrics()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				m.request("shop/web:http", "10.0.0.1:8080", 200)
				m.connection("shop/web:raw", "10.0.0.2:9000")
			}
		}()
	}
	wg.Wait()
	m.request("shop/web:http", "10.0.0.2:8080", 500)
	m.connection("default/dns:53", "10.0.0.9:53")

	c := m.Counts()
	if c.Since.IsZero() || len(c.Services) != 2 {
		t.Fatalf("counts %+v", c)
	}
	if s := c.Services[0]; s.Namespace != "default" || s.Name != "dns" || s.Connections != 1 || s.Requests != 0 {
		t.Errorf("dns %+v", s)
	}
	web := c.Services[1]
	want := []EndpointCounts{
		{IP: "10.0.0.1", Port: 8080, Requests: 800},
		{IP: "10.0.0.2", Port: 8080, Requests: 1},
		{IP: "10.0.0.2", Port: 9000, Connections: 800},
	}
	if web.Namespace != "shop" || web.Name != "web" || web.Requests != 801 || web.Connections != 800 || len(web.Endpoints) != 3 {
		t.Fatalf("web %+v", web)
	}
	for i, e := range web.Endpoints {
		if e != want[i] {
			t.Errorf("endpoint %d: %+v, want %+v", i, e, want[i])
		}
	}

	// The raw port goes: its counts stay with the Service.
	m.Forget("shop/web:raw")
	m.request("shop/web:http", "10.0.0.1:8080", 200)
	web = m.Counts().Services[1]
	if web.Requests != 802 || web.Connections != 800 || len(web.Endpoints) != 3 {
		t.Errorf("after forgetting a port: %+v", web)
	}
	// Its last counted port goes: the Service is forgotten.
	m.Forget("shop/web:http")
	if c := m.Counts(); len(c.Services) != 1 || c.Services[0].Name != "dns" {
		t.Errorf("after forgetting the Service: %+v", c)
	}
}
