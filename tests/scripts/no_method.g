1 + true;
Print("after\n");
5;
quit;
7;
