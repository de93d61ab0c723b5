'use strict';
// The console's list filters: choosing an object in an autocomplete filter reloads the list
// with it (and back to the first page), as a click on any other filter does.
{
    const $ = django.jQuery;
    $(function() {
        // select2 draws its own box for the select, without the select's name: pass it on (after
        // the admin's own ready handler has made the boxes).
        setTimeout(function() {
            $('select[data-filter-parameter]').each(function() {
                $(this).next('.select2').find('.select2-selection, .select2-selection__rendered')
                    .attr('aria-label', this.getAttribute('aria-label'));
            });
        }, 0);
        $('select[data-filter-parameter]').on('change', function() {
            const query = new URLSearchParams(window.location.search);
            query.delete('p');
            if (this.value) {
                query.set(this.dataset.filterParameter, this.value);
            } else {
                query.delete(this.dataset.filterParameter);
            }
            window.location.search = query.toString();
        });
    });
}
