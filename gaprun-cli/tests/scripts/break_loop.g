# A user Error() (GAP prints OnBreakMessage on stdout), Read, Info, views.
f := function(x, y) local z; z := x + y; return z * 2; end;
Print(f, "\n");
f;
Read("tests/scripts/included.g");
IncludedValue;
Info(InfoWarning, 1, "a warning ", 42);
Print(List([1..60], i -> i * 12345), "\n");
r := rec(x := [1,2,3], y := rec(z := "hello"));
Display(r);
last;
Error("custom error ", 5);
Print("inside the break loop\n");
quit;
Print("back at the main loop\n");
1/2 + 1/3;
