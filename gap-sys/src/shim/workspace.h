/*
 * gaprun workspace shim: save GAP's workspace and repair a restored one
 * (see src/workspace.rs).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef GAPRUN_WORKSPACE_H
#define GAPRUN_WORKSPACE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Save GAP's workspace to `path` with GAP's SaveWorkspace, after recording
 * in the workspace (a) the operations' "early methods" together with a
 * post-restore function that reinstalls them (GAP 4.12.x does not save
 * them; fixed upstream in 4.13.0) and (b) every entry of the kernel's
 * dispatch tables (a restore skips the module initialisation that sets
 * some of them). Error messages go to *errout*: this is meant for a
 * disposable forked child. GAPRUN_OK when GAP said `true`, GAPRUN_ERROR
 * otherwise. */
int gaprun_save_workspace(const char *path);

/* After GAP_Initialize: when GAP was restored from a workspace saved by
 * gaprun_save_workspace, set every kernel dispatch-table entry that differs
 * from the recorded one back to it. GAPRUN_OK (also when not restored);
 * GAPRUN_ERROR when the recorded tables do not fit this kernel. Called by
 * gaprun_initialize. */
int gaprun_workspace_repair_tables(void);

/* Entries rewritten by the last gaprun_workspace_repair_tables (-1: GAP was
 * not restored from a gaprun workspace); *unrepairable gets the number of
 * entries that could not be checked or set. */
int64_t gaprun_workspace_tables_repaired(int64_t *unrepairable);

/* Number of kernel dispatch-table entries gaprun records. */
size_t gaprun_kernel_table_entries(void);

/* Copy the current entries (raw addresses, in recording order) into `out`
 * (at most `n`); returns the number of entries. Meant for comparing two
 * processes forked from one parent, where addresses agree. */
size_t gaprun_kernel_tables_raw(uint64_t *out, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* GAPRUN_WORKSPACE_H */
