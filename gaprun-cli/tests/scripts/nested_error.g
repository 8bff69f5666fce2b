g := function(x) return x/0; end;
h := function(y) return g(y+1); end;
Print("calling\n");
h(3);
Print("not reached in file mode\n");
