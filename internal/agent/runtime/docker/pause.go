package docker

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"time"
)

// The infra ("pause") container of a sandbox runs a tiny static program
// that does nothing, forever, so that it holds the pod's network (and IPC)
// namespace while the app containers come and go. Nothing can be pulled on
// many machines, so the driver does not use registry.k8s.io/pause: it
// writes the program itself (a minimal ELF executable, a few dozen bytes of
// code and headers) and imports it with the image import API as
// PauseImageRepo:PauseImageVersion.
//
// The program never handles a signal: the driver stops infra containers
// with SIGKILL (their stop signal is SIGKILL too, so `docker stop` does not
// wait), and as PID 1 of its PID namespace the kernel ignores every other
// signal with a default disposition. It does not reap zombies either: app
// containers have PID namespaces of their own (with docker-init as their
// PID 1), so no process is ever its child.
const (
	// PauseImageRepo and PauseImageVersion name the generated image.
	// Bump the version whenever the program's bytes change.
	PauseImageRepo    = "berth/pause"
	PauseImageVersion = "1"
	// pauseBinary is the program's path in the image.
	pauseBinary = "/pause"
	// elfBase is where the single LOAD segment (the whole file) is mapped;
	// 64 KiB aligned, so it also suits arm64 kernels with 64 KiB pages.
	elfBase = 0x400000
	// elfHeaderSize and elfPhdrSize are the sizes of the ELF64 file header
	// and of one program header; the code follows them.
	elfHeaderSize = 64
	elfPhdrSize   = 56
)

// pauseCode is the machine code of the program per GOARCH.
var pauseCode = map[string]struct {
	machine elf.Machine
	code    []byte
}{
	// x86-64:
	//
	//	loop:	mov  eax, 34      ; b8 22 00 00 00   SYS_pause
	//		syscall           ; 0f 05
	//		jmp  loop         ; eb f7            (rel8 -9: back to loop)
	//
	// pause(2) sleeps until a signal is delivered; a signal that does not
	// kill the process (none can but SIGKILL) returns to the loop.
	"amd64": {elf.EM_X86_64, []byte{
		0xb8, 0x22, 0x00, 0x00, 0x00,
		0x0f, 0x05,
		0xeb, 0xf7,
	}},
	// AArch64 has no pause(2); ppoll(NULL, 0, NULL, NULL) waits the same
	// way. Each instruction is one little-endian 32-bit word:
	//
	//	loop:	movz x0, #0       ; d2800000   fds = NULL
	//		movz x1, #0       ; d2800001   nfds = 0
	//		movz x2, #0       ; d2800002   timeout = NULL (forever)
	//		movz x3, #0       ; d2800003   sigmask = NULL
	//		movz x8, #73      ; d2800928   SYS_ppoll (73 << 5 | 8)
	//		svc  #0           ; d4000001
	//		b    loop         ; 17fffffa   (imm26 -6: six words back)
	"arm64": {elf.EM_AARCH64, le32(
		0xd2800000,
		0xd2800001,
		0xd2800002,
		0xd2800003,
		0xd2800928,
		0xd4000001,
		0x17fffffa,
	)},
}

// le32 encodes words in little-endian order.
func le32(words ...uint32) []byte {
	b := make([]byte, 0, 4*len(words))
	for _, w := range words {
		b = binary.LittleEndian.AppendUint32(b, w)
	}
	return b
}

// pauseELF returns the pause program for arch (a GOARCH name: amd64 or
// arm64): a static ELF64 executable made of the file header, one LOAD
// program header mapping the whole file read+execute at elfBase, and the
// code, which is the entry point. There are no sections.
func pauseELF(arch string) ([]byte, error) {
	p, ok := pauseCode[arch]
	if !ok {
		return nil, fmt.Errorf("%w: no built-in pause program for architecture %q (set Config.PauseImage to a pause image loaded on the node)",
			errUnsupportedArch, arch)
	}
	size := uint64(elfHeaderSize + elfPhdrSize + len(p.code))
	hdr := elf.Header64{
		Type:      uint16(elf.ET_EXEC),
		Machine:   uint16(p.machine),
		Version:   uint32(elf.EV_CURRENT),
		Entry:     elfBase + elfHeaderSize + elfPhdrSize,
		Phoff:     elfHeaderSize,
		Ehsize:    elfHeaderSize,
		Phentsize: elfPhdrSize,
		Phnum:     1,
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	hdr.Ident[elf.EI_OSABI] = byte(elf.ELFOSABI_NONE)
	prog := elf.Prog64{
		Type:   uint32(elf.PT_LOAD),
		Flags:  uint32(elf.PF_R | elf.PF_X),
		Off:    0,
		Vaddr:  elfBase,
		Paddr:  elfBase,
		Filesz: size,
		Memsz:  size,
		Align:  0x10000,
	}
	var b bytes.Buffer
	// Writes to a bytes.Buffer do not fail.
	_ = binary.Write(&b, binary.LittleEndian, &hdr)
	_ = binary.Write(&b, binary.LittleEndian, &prog)
	b.Write(p.code)
	return b.Bytes(), nil
}

// pauseRootFS returns the root file system of the pause image as a tar
// stream: the program as /pause, owned by root, mode 0755.
func pauseRootFS(arch string) ([]byte, error) {
	prog, err := pauseELF(arch)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{
		Name: pauseBinary[1:], Mode: 0o755, Size: int64(len(prog)), Typeflag: tar.TypeReg,
		ModTime: time.Unix(0, 0), Format: tar.FormatPAX,
	}); err != nil {
		return nil, fmt.Errorf("build the pause image: %w", err)
	}
	if _, err := tw.Write(prog); err != nil {
		return nil, fmt.Errorf("build the pause image: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("build the pause image: %w", err)
	}
	return b.Bytes(), nil
}
