/* Round trips of `gaprun serve --stdio` from a minimal C client, to tell the
 * server's share from the Python client's (benches/session.py):
 *   cc -O2 -o /tmp/session_rt benches/session_rt.c
 *   /tmp/session_rt target/release/gaprun 5000
 * times N `eval 1+1;` and N `switch` requests (after 200 warm-up each). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <sys/wait.h>
static int in_fd, out_fd; static char buf[1<<16]; static size_t blen;
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e6+t.tv_nsec/1e3;}
static void readline_(){ for(;;){ char*nl=memchr(buf,'\n',blen); if(nl){size_t k=nl-buf+1; memmove(buf,buf+k,blen-k); blen-=k; return;} ssize_t r=read(in_fd,buf+blen,sizeof buf-blen); if(r<=0){perror("read");exit(1);} blen+=r; } }
static int cmp(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
int main(int argc,char**argv){ int N=atoi(argv[2]); int a[2],b[2]; pipe(a); pipe(b);
 if(!fork()){ dup2(a[0],0); dup2(b[1],1); close(a[1]); close(b[0]); execl(argv[1],argv[1],"serve","--stdio","-A","-s","2g",NULL); _exit(127);} 
 close(a[0]); close(b[1]); out_fd=a[1]; in_fd=b[0]; readline_();
 const char* reqs[2]={"{\"id\":1,\"op\":\"eval\",\"code\":\"1+1;\"}\n","{\"id\":1,\"op\":\"switch\",\"session\":0}\n"};
 double *l=malloc(sizeof(double)*N);
 for(int k=0;k<2;k++){ for(int i=0;i<200;i++){write(out_fd,reqs[k],strlen(reqs[k])); readline_();}
  for(int i=0;i<N;i++){double t=now(); write(out_fd,reqs[k],strlen(reqs[k])); readline_(); l[i]=now()-t;}
  qsort(l,N,sizeof(double),cmp); printf("%s: median %.1f us p90 %.1f\n",k?"switch":"eval",l[N/2],l[N*9/10]); }
 close(out_fd); wait(NULL); return 0; }
