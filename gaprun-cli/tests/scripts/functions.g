# Functions, loops, printing with line breaks.
f := function(n) local s, i; s := 0; for i in [1..n] do s := s + i; od; return s; end;
f(100);
Print(f(10), "\n");
fib := function(n) if n < 3 then return 1; fi; return fib(n-1) + fib(n-2); end;;
List([1..20], fib);
Print(List([1..40], i -> i * 1000), "\n");
Display([[1,2],[3,4]]);
s := "";; for i in [1..5] do Append(s, String(i)); od; s;
x := 10;; while x > 0 do x := x - 3; od; x;
