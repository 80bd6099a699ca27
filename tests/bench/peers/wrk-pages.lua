-- wrk script: rotate over the `fast` site's pages, as a crawl fetches them
-- (`wrk -t2 -c64 -d5s -s tests/bench/peers/wrk-pages.lua URL [-- PAGES]`, URL
-- from `bench __serve fast`; PAGES is the site's page count, 10000 unless given).
pages = 10000
counter = 0
init = function(args)
  pages = tonumber(args[1]) or pages
end
request = function()
  counter = (counter + 1) % pages
  return wrk.format("GET", "/p/" .. counter .. ".html")
end
