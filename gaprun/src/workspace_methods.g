# gaprun: a function (an expression, no global is bound) that writes a text dump of every operation's method table, for comparing a GAP
# started normally with one restored from a saved workspace (read by
# src/workspace.rs when it builds a workspace, and by tests/workspace.rs).
# One line per operation and arity 0..6 (name, number of methods, whether
# it has an early method), then one line per method: every entry of its
# METHODS_OPERATION record -- filters (as TRUES_FLAGS), family predicate,
# function (name, file, line), rank, info, location.
function(out)
  local entry, op, k, m, width, n, i, j;
  entry := function(x)
    if IsFunction(x) then
      PrintTo(out, "<", NAME_FUNC(x), " ", FILENAME_FUNC(x), ":",
              STARTLINE_FUNC(x), ">");
    elif TNUM_OBJ(x) = TNUM_OBJ(EMPTY_FLAGS) then
      PrintTo(out, "flags", TRUES_FLAGS(x));
    else
      PrintTo(out, x);
    fi;
  end;
  PrintTo(out, "operations ", Length(OPERATIONS), " filters ",
          Length(FILTERS), "\n");
  for op in OPERATIONS do
    for k in [0 .. 6] do
      m := METHODS_OPERATION(op, k);
      width := BASE_SIZE_METHODS_OPER_ENTRY + k;
      n := Length(m) / width;
      PrintTo(out, NAME_FUNC(op), "/", k, " methods ", n, " early ",
              EARLY_METHOD(op, k) <> fail, "\n");
      for i in [0 .. n - 1] do
        PrintTo(out, "  ");
        for j in [1 .. width] do
          entry(m[i * width + j]);
          PrintTo(out, " ");
        od;
        PrintTo(out, "\n");
      od;
    od;
  od;
end
