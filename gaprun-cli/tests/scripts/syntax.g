Print("syntax next\n");
x := ;
Print("after syntax\n");
