Print("one\n");
1 + 1;
quit;
Print("two\n");
