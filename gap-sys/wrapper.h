/* Input for bindgen: GAP's public C API and gaprun's shim. */
#include "libgap-api.h"
#include "gaprun_shim.h"
#include "convert.h"
#include "interrupt.h"
#include "workspace.h"
#include "gaprun_fork.h"
