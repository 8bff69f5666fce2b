x := undefinedVar + 1;
Print("after\n");
5;
quit;
7;
