IsBound(zz.a);
Print("after\n");
5;
quit;
7;
