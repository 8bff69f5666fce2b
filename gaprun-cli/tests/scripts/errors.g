# A runtime error in the middle: files stop here, statements go on.
Print("before\n");
a := 1/0;
Print("after error\n");
b := 5;
b + 1;
