/*
 * gaprun workspace shim: save GAP's workspace (see src/workspace.rs).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef GAPRUN_WORKSPACE_H
#define GAPRUN_WORKSPACE_H

#ifdef __cplusplus
extern "C" {
#endif

/* Save GAP's workspace to `path` with GAP's SaveWorkspace, after recording
 * the operations' "early methods" in the workspace together with a
 * post-restore function that reinstalls them (GAP 4.12.x does not save
 * them; fixed upstream in 4.13.0). Error messages go to *errout*: this is
 * meant for a disposable forked child. GAPRUN_OK when GAP said `true`,
 * GAPRUN_ERROR otherwise. */
int gaprun_save_workspace(const char *path);

#ifdef __cplusplus
}
#endif

#endif /* GAPRUN_WORKSPACE_H */
