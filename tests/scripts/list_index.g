l := [1, 2];;
l[5];
Print("after\n");
5;
quit;
7;
