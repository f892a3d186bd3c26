package process

import (
	"strconv"
	"strings"
)

// mountEntry is one line of /proc/<pid>/mountinfo.
type mountEntry struct {
	id, parent int
	root       string // the mounted directory of its file system
	point      string // mount point, unescaped
	fsType     string
}

// parseMountInfo reads mountinfo lines: "id parent major:minor root point
// options [optional fields...] - fstype source super-options".
func parseMountInfo(data string) []mountEntry {
	var out []mountEntry
	for _, line := range strings.Split(data, "\n") {
		f := strings.Fields(line)
		sep := -1
		for i, v := range f {
			if v == "-" {
				sep = i
				break
			}
		}
		if len(f) < 5 || sep < 6 || sep+1 >= len(f) {
			continue
		}
		id, err1 := strconv.Atoi(f[0])
		parent, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, mountEntry{id: id, parent: parent, root: unescapeMountPath(f[3]), point: unescapeMountPath(f[4]), fsType: f[sep+1]})
	}
	return out
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// namespaceHolders plans how to drop, from a copy of the host's mount
// table, the bind mounts of namespaces (nsfs: the pods' network
// namespaces, `ip netns` names) that a new mount namespace copies: as
// long as a copy exists, the namespace it names cannot be freed. It
// returns the mount points to unmount (lazily, in this order; one entry
// per unmount): for each namespace mount, its highest ancestor that is a
// directory bind mount (as `ip netns` makes /run/netns) holding only
// namespace mounts and such directories; never the root mount, a file
// system's own root (a tmpfs on /run) or a mount that holds anything else.
func namespaceHolders(mounts []mountEntry) []string {
	byID := map[int]*mountEntry{}
	children := map[int][]int{}
	for i := range mounts {
		m := &mounts[i]
		byID[m.id] = m
	}
	for _, m := range mounts {
		if m.parent != m.id && byID[m.parent] != nil {
			children[m.parent] = append(children[m.parent], m.id)
		}
	}
	// holder: an nsfs mount, or a directory bind mount with children that
	// are all holders.
	memo := map[int]bool{}
	var holder func(id int) bool
	holder = func(id int) bool {
		if v, ok := memo[id]; ok {
			return v
		}
		memo[id] = false // cycles cannot happen; guard anyway
		m := byID[id]
		v := m.fsType == "nsfs"
		if !v && m.root != "/" && len(children[id]) > 0 {
			v = true
			for _, c := range children[id] {
				if !holder(c) {
					v = false
					break
				}
			}
		}
		memo[id] = v
		return v
	}
	isRoot := func(m *mountEntry) bool { return m.parent == m.id || byID[m.parent] == nil }
	tops := map[int]bool{}
	for i := range mounts {
		m := &mounts[i]
		if m.fsType != "nsfs" || isRoot(m) {
			continue
		}
		top := m
		for {
			p := byID[top.parent]
			if isRoot(p) || !holder(p.id) {
				break
			}
			top = p
		}
		tops[top.id] = true
	}
	// Unmounting a path removes the topmost mount there: a top with
	// mounts stacked on it at the same path takes one unmount each.
	var out []string
	for _, m := range mounts { // mountinfo order: parents before children
		if !tops[m.id] {
			continue
		}
		n := 1
		for stack := children[m.id]; len(stack) > 0; {
			c := byID[stack[0]]
			stack = stack[1:]
			if c.point == m.point {
				n++
				stack = append(stack, children[c.id]...)
			}
		}
		for range n {
			out = append(out, m.point)
		}
	}
	return out
}
