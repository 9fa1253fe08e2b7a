package main

// #include <stdlib.h>
// #include "sealfs.h"
//
// static inline void call_finding(sealfs_fsck_cb cb, void *ctx, struct sealfs_finding *f) { cb(ctx, f); }
import "C"

import (
	"context"
	"unsafe"

	"github.com/sealfs/sealfs/fsck"
	"github.com/sealfs/sealfs/vault"
)

//export sealfs_fsck
func sealfs_fsck(dir *C.sealfs_cchar, pw *C.char, pwLen C.size_t, configPath *C.sealfs_cchar, flags C.int, cb C.sealfs_fsck_cb, cbCtx unsafe.Pointer) C.int64_t {
	d, password, ok := dirAndPassword(dir, pw, pwLen)
	defer clear(password)
	if !ok {
		return eFault
	}
	cfg, key, errc := loadUnlock(configFile(d, configPath, vault.DefaultFile), password)
	if errc != 0 {
		return errc
	}
	defer key.Destroy()
	opts := &fsck.Options{
		Repair: flags&C.SEALFS_FSCK_REPAIR != 0,
		DryRun: flags&C.SEALFS_FSCK_DRY_RUN != 0,
	}
	if cb != nil {
		opts.OnFinding = func(f fsck.Finding) { report(cb, cbCtx, f) }
	}
	rep, err := fsck.Check(context.Background(), d, cfg, key, opts)
	if err != nil {
		return code(err)
	}
	if opts.Repair && !opts.DryRun {
		return C.int64_t(rep.Unrepaired())
	}
	return C.int64_t(rep.Errors())
}

// report hands one finding to the C callback.
func report(cb C.sealfs_fsck_cb, cbCtx unsafe.Pointer, f fsck.Finding) {
	cf := (*C.struct_sealfs_finding)(C.calloc(1, C.sizeof_struct_sealfs_finding))
	defer C.free(unsafe.Pointer(cf))
	var strs []*C.char
	cs := func(s string) *C.char {
		p := C.CString(s)
		strs = append(strs, p)
		return p
	}
	defer func() {
		for _, p := range strs {
			C.free(unsafe.Pointer(p))
		}
	}()
	cf.cipher_path = (*C.char)(cs(f.CipherPath))
	if f.PlainPath != "" {
		cf.plain_path = cs(f.PlainPath)
	}
	if f.Warning {
		cf.warning = 1
	}
	cf.block = C.int64_t(f.Block)
	msg := f.Kind.String()
	if f.Err != nil {
		msg += ": " + f.Err.Error()
	}
	cf.message = cs(msg)
	C.call_finding(cb, cbCtx, cf)
}
