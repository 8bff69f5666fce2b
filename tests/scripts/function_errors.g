f := function(l) return l[10]; end;;
g := function(x) return f([x]) + 1; end;;
g(1);
Print("after g\n");
5;
quit;
8;
