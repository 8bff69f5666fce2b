Print("leaving with 3\n");
QuitGap(3);
Print("never\n");
