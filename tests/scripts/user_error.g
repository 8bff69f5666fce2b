Error("my <error> ", 42);
Print("after\n");
5;
quit;
7;
